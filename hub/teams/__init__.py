"""Teams: who may do what, decided in one place.

``permissions`` names what tools need and the built-in roles; ``grants`` reads a user's live
grants (platform role, team roles, a token's scopes); ``policy`` is the one rule for objects
(owning team and visibility); ``audit`` writes the rows of changes and denied calls. The registry
gates every tool and resource with these; domains ask ``policy`` about their objects.
"""
