"""Burst Assurance: service-assurance tickets for Huawei Cloud Live traffic bursts."""
