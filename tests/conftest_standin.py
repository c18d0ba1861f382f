"""The stand-in's fixtures as a pytest plugin: ``pytest_plugins = ("tests.conftest_standin",)`` in a test module.

A plugin module is imported by pytest itself so that its asserts are rewritten; the fixtures live
in ``tests/llm_standin.py``, which test modules import freely.
"""

from tests.llm_standin import standin, standin_server

__all__ = ["standin", "standin_server"]
