"""The console: the web UI at ``/ui`` of ``goosuke serve``, server-rendered pages for the people who run the hub.

No Service of its own: ``plugin.py`` declares only HTTP routes. Every page reads through, and every form
posts to, the registry's tools (``Registry.call_tool``) as the signed-in user, so the console can never do
more than that user could over MCP. It needs the registry, the database (sign-ins in ``console_sessions``)
and the hub's token verifier (password checks, pasted API tokens). See ``docs/console.md``.

- ``sessions.py``: sign-ins: the cookie's hash mapped to a user, the user's live grants per request;
- ``render.py``: the template environment, the sub-path of every URL, tool calls as the user, error pages;
- ``pages.py`` and ``pages_*.py``: what each page reads and shows; ``events.py``: the live pages' event stream;
- ``i18n.py``: English and Japanese; ``templates/`` and ``static/``: the pages, one stylesheet, one script.
"""
