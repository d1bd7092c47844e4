"""Lab simulator of the Consul and Nomad HTTP APIs (a test and demo tool, never the runtime).

Behaviour follows shared reference facts (consul-nomad-api.md); where a real engine
disagrees, the real engine wins and this package is fixed.
"""
