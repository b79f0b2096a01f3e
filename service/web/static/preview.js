// Card preview: loads the sample requests, posts one to /preview/render, draws the cards.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const { el, drawCard } = ToxCards;
  let samples = [];

  async function loadSample(id) {
    const sample = samples.find((s) => s.id === id);
    $("sample-description").textContent = sample ? sample.description : "";
    $("now").value = sample && sample.now ? sample.now : "";
    if (!id) return;
    const response = await fetch(`/preview/samples/${encodeURIComponent(id)}`);
    $("request").value = JSON.stringify(await response.json(), null, 2);
  }

  async function render() {
    const status = $("status");
    const cards = $("cards");
    cards.replaceChildren();
    let body;
    try {
      body = JSON.parse($("request").value);
    } catch (err) {
      status.replaceChildren(el("p", { className: "error", text: `The request is not valid JSON: ${err.message}` }));
      return;
    }
    status.textContent = "Evaluating…";
    const asOf = $("now").value.trim();
    const response = await fetch(`/preview/render${asOf ? "?now=" + encodeURIComponent(asOf) : ""}`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
    const result = await response.json();
    if (!response.ok) {
      status.replaceChildren(el("p", { className: "error", text: `${response.status}: ${result.error}${result.field ? " (" + result.field + ")" : ""}` }));
      $("raw").textContent = JSON.stringify(result, null, 2);
      return;
    }
    result.cards.forEach((card, i) => cards.appendChild(drawCard(card, i)));
    status.textContent = result.cards.length === 1 ? "1 card" : `${result.cards.length} cards`;
    cards.setAttribute("data-rendered", String(result.cards.length));
    $("raw").textContent = JSON.stringify(result.response, null, 2);
  }

  async function start() {
    const response = await fetch("/preview/samples");
    samples = await response.json();
    const select = $("sample");
    select.replaceChildren(el("option", { value: "", text: "— paste your own —" }),
      ...samples.map((s) => el("option", { value: s.id, text: `${s.title} (${s.hook})` })));
    select.addEventListener("change", () => loadSample(select.value));
    $("render").addEventListener("click", () => render().catch((err) => {
      $("status").replaceChildren(el("p", { className: "error", text: String(err) }));
    }));
    const wanted = new URLSearchParams(location.search).get("sample");
    if (wanted && samples.some((s) => s.id === wanted)) {
      select.value = wanted;
      await loadSample(wanted);
      await render();
    }
  }

  start().catch((err) => { $("status").textContent = String(err); });
})();
