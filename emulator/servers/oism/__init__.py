"""servers/oism"""
