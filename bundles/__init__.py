"""Bundle builders for tests, benchmarks and the README (not part of the installed runtime)."""
