// The interactive API page: lists /api/tools and calls POST /api/tools/{name}. No external assets.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem("goosuke-token") || "";
  let tools = [];

  function headers() {
    return { "Authorization": "Bearer " + token, "Content-Type": "application/json" };
  }

  function example(schema) {
    const out = {};
    const props = (schema && schema.properties) || {};
    for (const [name, prop] of Object.entries(props)) {
      if ("default" in prop) out[name] = prop.default;
      else if ((schema.required || []).includes(name)) {
        out[name] = prop.type === "integer" || prop.type === "number" ? 0 :
          prop.type === "boolean" ? false : prop.type === "array" ? [] : prop.type === "object" ? {} : "";
      }
    }
    return out;
  }

  function text(tag, content, cls) {
    const el = document.createElement(tag);
    el.textContent = content;
    if (cls) el.className = cls;
    return el;
  }

  function show(tool) {
    document.querySelectorAll("#tools li").forEach((li) => li.classList.toggle("active", li.dataset.name === tool.name));
    const d = $("detail");
    d.replaceChildren();
    const h = text("h2", tool.name + " ");
    h.appendChild(text("span", tool.role, "role"));
    d.appendChild(h);
    d.appendChild(text("p", tool.description));
    d.appendChild(text("h3", "Arguments (JSON)"));
    const area = document.createElement("textarea");
    area.value = JSON.stringify(example(tool.input_schema), null, 2);
    d.appendChild(area);
    const button = text("button", "Call " + tool.name);
    d.appendChild(button);
    const result = text("pre", "");
    d.appendChild(text("h3", "Result"));
    d.appendChild(result);
    d.appendChild(text("h3", "Input schema"));
    d.appendChild(text("pre", JSON.stringify(tool.input_schema, null, 2)));
    button.addEventListener("click", async () => {
      result.className = "";
      result.textContent = "…";
      try {
        const r = await fetch("/api/tools/" + encodeURIComponent(tool.name),
          { method: "POST", headers: headers(), body: area.value });
        const body = await r.text();
        let pretty = body;
        try { pretty = JSON.stringify(JSON.parse(body), null, 2); } catch (e) { /* not JSON */ }
        result.textContent = r.status + "\n" + pretty;
        if (!r.ok) result.className = "error";
      } catch (e) {
        result.className = "error";
        result.textContent = String(e);
      }
    });
  }

  function render() {
    const filter = $("filter").value.toLowerCase();
    const list = $("tools");
    list.replaceChildren();
    for (const tool of tools) {
      if (filter && !tool.name.includes(filter)) continue;
      const li = text("li", tool.name);
      li.dataset.name = tool.name;
      li.addEventListener("click", () => show(tool));
      list.appendChild(li);
    }
  }

  async function load() {
    $("status").textContent = "loading…";
    const r = await fetch("/api/tools", { headers: headers() });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      $("status").textContent = "refused: " + (body.detail || r.status);
      return;
    }
    tools = (await r.json()).tools;
    $("status").textContent = tools.length + " tools";
    render();
  }

  $("auth").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("goosuke-token", token);
    load();
  });
  $("filter").addEventListener("input", render);
  if (token) { $("token").value = token; load(); }
})();
