"""bundler"""
