"""The one exception type the UI, the API and the command line turn into a message."""


class AgentError(Exception):
    """A problem with the user's input or with a checkpoint, worded for the user.

    The message says what went wrong and what to do next; it never carries a traceback.
    """
