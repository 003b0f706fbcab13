"""A demo sign-up page: the public guide's example form, wired to one program."""
