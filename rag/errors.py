"""One small family of errors. The CLI and UI turn these into friendly messages."""


class RagError(Exception):
    """Something the user can fix; the message says how."""


class IndexNotFound(RagError):
    pass


class IndexMismatch(RagError):
    pass


class BadInput(RagError):
    pass


class ModelError(RagError):
    pass
