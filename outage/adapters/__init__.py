"""Adapters of the customer side, named by technology; they translate, they do not decide."""
