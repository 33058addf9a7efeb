"""The public, read-only API under ``/api/v1/`` and the personal tokens that open its
member endpoints.

``views`` serves the API (JSON, problem+json errors, cursor pagination, ETags);
``openapi`` builds the OpenAPI 3.1 document that describes every answer; ``tokens`` holds
the token rules (created, shown once, stored hashed, revoked); ``token_views`` are the
account pages where a member manages them.
"""
