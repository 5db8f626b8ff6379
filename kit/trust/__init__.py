"""kit/trust"""
