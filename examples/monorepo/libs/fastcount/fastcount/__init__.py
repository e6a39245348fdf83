"""Vowel counting with a C extension (the build must compile it)."""

from fastcount._fast import vowels

IMPL = "c"
__all__ = ["vowels", "IMPL"]
