"""The top floor's workbench: ``wismo bench`` scenarios, ``wismo simulate`` and the one synthetic
order history generator that they and the tests share. Nothing in the product packages imports it.
"""
