"""`InputError`: the base of every exception that means bad input, defined in the lowest layer so
that each layer's readers and checks can raise it (`avatar.cli.errors` says how the command
reports it)."""


class InputError(ValueError):
    """What the user gave is wrong: a file or folder that is not what it claims to be, an argument
    or setting out of range, a device or backend this machine does not have. The message says
    what and where (a file's errors name the file).

    The `avatar` command prints the message on one line and exits 2. Any other exception,
    a plain ValueError included, is a bug: it is reported with its traceback. A ValueError
    subclass, so that library callers catching ValueError keep working.
    """
