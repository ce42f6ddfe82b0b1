"""A module no test process imports: a worker that has it loaded it ahead of a step."""
