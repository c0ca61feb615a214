"""群众查询: the public status lookup by ID number and name."""
