"""Teams: who may do what, decided in one place.

The policy, which the kernel applies on every surface: ``permissions`` names what tools need and
the built-in roles; ``roles`` reads and checks role definitions; ``grants`` reads a user's live
grants (platform role, team roles, a token's scopes); ``policy`` is the one rule for objects
(owning team and visibility); ``audit`` writes the rows of changes and denied calls.

The domain, used by the tools: ``service`` (teams and memberships), ``owned`` (what a team owns,
counted and moved), ``tokens`` (a scoped token's checks) and sign-in through the team's identity
provider (``oidc``, ``oidc_sync``), whose routes ``plugin.py`` declares. There is no running
Service: teams are rows the other services read through the policy.
"""
