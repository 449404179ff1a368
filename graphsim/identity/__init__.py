"""The Microsoft identity platform: discovery, the token endpoint and its
grants, and the JWTs it mints."""
