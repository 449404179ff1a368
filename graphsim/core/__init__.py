"""The simulator core: state, persistence, certificates and keys, errors,
OData helpers, token checking, routing, the shared Sim context and the WSGI
app. It imports no Graph area, no identity module and no control module."""
