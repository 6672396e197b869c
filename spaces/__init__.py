"""Search spaces (pure) and, beside each, its benchmark adapters. See ``spaces.registry``."""
