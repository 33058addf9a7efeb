"""Member mail preferences: immediate mail or a weekly digest, mutes, unsubscribe."""
