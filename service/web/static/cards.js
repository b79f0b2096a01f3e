// Shared card drawing (preview page and timeline app): cards as an EHR shows them.
"use strict";

const ToxCards = (function () {
  const LABELS = { info: "Info", warning: "Warning", critical: "Critical" };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children || []) if (child) node.appendChild(child);
    return node;
  }

  function actionList(actions) {
    if (!actions.length) return null;
    return el("ul", { className: "actions" }, actions.map((a) =>
      el("li", { text: `${a.type}${a.resourceType ? " " + a.resourceType : ""}${a.resourceId ? " " + a.resourceId : ""}: ${a.description}` })));
  }

  function drawCard(card, index) {
    const headingId = `card-${index}-summary`;
    const node = el("article", { className: `card ${card.indicator}`, "aria-labelledby": headingId,
      "data-indicator": card.indicator });
    node.appendChild(el("h3", { id: headingId }, [
      el("span", { className: `indicator ${card.indicator}`, text: LABELS[card.indicator] || card.indicator }),
      el("span", { className: "summary", text: card.summary }),
    ]));
    if (card.detailHtml) {
      const detail = el("div", { className: "detail" });
      detail.innerHTML = card.detailHtml; // rendered server-side by markdown-it with raw HTML escaped
      node.appendChild(detail);
    }
    const source = el("p", { className: "source" }, [document.createTextNode("Source: ")]);
    if (card.source.url) source.appendChild(el("a", { href: card.source.url, target: "_blank", rel: "noopener", text: card.source.label }));
    else source.appendChild(document.createTextNode(card.source.label));
    node.appendChild(source);
    if (card.suggestions.length) {
      const group = el("div", { className: "suggestions", role: "group", "aria-label": "Suggestions" });
      card.suggestions.forEach((s) => {
        const wrap = el("div", { className: "suggestion-wrap" });
        const button = el("button", { type: "button", className: "suggestion" + (s.isRecommended ? " recommended" : ""),
          "aria-pressed": "false", text: (s.isRecommended ? "★ " : "") + s.label });
        button.addEventListener("click", () => {
          button.setAttribute("aria-pressed", button.getAttribute("aria-pressed") === "true" ? "false" : "true");
        });
        wrap.appendChild(button);
        const list = actionList(s.actions);
        if (list) wrap.appendChild(list);
        group.appendChild(wrap);
      });
      node.appendChild(group);
    }
    if (card.links.length) {
      const links = el("div", { className: "links" });
      card.links.forEach((link) => {
        if (!link.url) { links.appendChild(el("span", { text: `${link.label} (link without a usable URL)` })); return; }
        const a = el("a", { href: link.url, target: "_blank", rel: "noopener", className: "link",
          "data-type": link.type, text: `${link.label}${link.type === "smart" ? " (SMART app)" : ""}` });
        links.appendChild(a);
        if (link.appContext) links.appendChild(el("code", { className: "app-context", text: `appContext: ${link.appContext}` }));
      });
      node.appendChild(links);
    }
    return node;
  }

  return { el, drawCard };
})();
