"""Worked examples of applications built on aftersales."""
