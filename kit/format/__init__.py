"""kit/format"""
