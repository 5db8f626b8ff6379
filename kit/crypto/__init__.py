"""kit/crypto"""
