"""housing"""
