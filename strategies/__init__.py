"""Search strategies, one module each, found through ``strategies.registry``."""
