"""textgen"""
