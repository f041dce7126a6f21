"""This library's side of the benchmark: its settings and a no-op trigger."""
