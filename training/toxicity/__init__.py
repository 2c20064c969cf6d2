"""toxicity"""
