"""Formats defined outside rawconv, registered through the ``rawconv.formats`` entry points."""
