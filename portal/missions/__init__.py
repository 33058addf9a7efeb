"""Trade missions and matchmaking events: participants, meeting requests, the scheduler."""
