"""Graph users: the user resource, ``/users`` and ``/me``, and ``/users/delta``."""
