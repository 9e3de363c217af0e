"""Fast solvers (ADMM) for the Net-Trim layer programs."""
