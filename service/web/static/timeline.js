// Timeline app: gets the patient's FHIR data with the app's own token (or, in development mode,
// from an open FHIR server), has toxhooks shape it, and draws labs with grade bands, recorded
// adverse events, the therapy lanes and desensitization calendars on one time axis.
"use strict";

(function () {
  const { el, drawCard } = ToxCards;
  const $ = (id) => document.getElementById(id);
  // Okabe-Ito palette: colour-blind safe; grades are also labelled in text on every band.
  const GRADE_COLOURS = { 1: "#F0E442", 2: "#E69F00", 3: "#D55E00", 4: "#CC79A7", 5: "#000000" };
  const SERIES_COLOURS = ["#0072B2", "#009E73", "#56B4E9", "#D55E00", "#CC79A7", "#E69F00", "#000000"];
  const SYNC = "toxhooks-timeline";
  const MAX_PAGES = 5;
  const DAY = 86400;

  const toSeconds = (iso) => Date.parse(iso) / 1000;
  const fmtDate = (iso) => (iso ? new Date(iso).toISOString().slice(0, 10) : "—");
  const fmtNum = (v, digits = 2) => (v === null || v === undefined ? "—" : String(Math.round(v * 10 ** digits) / 10 ** digits));

  function showError(message) {
    $("status").replaceChildren(el("p", { className: "error", text: message }));
  }

  function parseAppContext(raw) {
    if (!raw) return {};
    if (typeof raw === "object") return raw;
    try {
      const value = JSON.parse(raw);
      return value && typeof value === "object" ? value : {};
    } catch (err) {
      return {};
    }
  }

  // --- where the data comes from ------------------------------------------------------------

  async function launchContext(config) {
    const query = new URLSearchParams(location.search);
    if (query.get("code") && query.get("state")) {
      const launched = await ToxSmart.exchange(query.get("code"), query.get("state"));
      history.replaceState(null, "", location.pathname); // the code is single-use: drop it from the URL
      const app = parseAppContext(launched.appContext);
      return { fhirBase: launched.fhirBase, token: launched.token, patient: launched.patient || app.patient || null,
        drug: app.drug || null, rule: app.rule || null, contextPatient: app.patient || null, mode: "SMART launch" };
    }
    // Development mode takes its parameters from the fragment (never sent to the server, so the
    // patient id stays out of access logs); the query string is accepted too.
    const dev = new URLSearchParams(location.hash.slice(1));
    const param = (name) => dev.get(name) || query.get(name);
    if (param("fhir") && param("patient")) {
      if (!config.devEnabled) throw new Error("Development mode is off on this server: launch the app from the EHR.");
      return { fhirBase: param("fhir"), token: null, patient: param("patient"),
        drug: param("drug") || null, rule: param("rule") || null, mode: "development mode" };
    }
    throw new Error("This page is opened by a SMART launch: start it from the EHR or from /smart/launch.");
  }

  async function fhirGet(ctx, url) {
    const headers = { Accept: "application/fhir+json" };
    if (ctx.token) headers.Authorization = `Bearer ${ctx.token}`;
    const response = await fetch(url, { headers });
    if (!response.ok) { const err = new Error(`HTTP ${response.status}`); err.status = response.status; throw err; }
    return response.json();
  }

  async function search(ctx, relative, notes, failed, key) {
    const base = ctx.fhirBase.replace(/\/+$/, "");
    let url = `${base}/${relative}`;
    const found = [];
    for (let page = 0; url && page < MAX_PAGES; page += 1) {
      let bundle;
      try {
        bundle = await fhirGet(ctx, url);
      } catch (err) {
        notes.push(`${relative.split("?")[0]} could not be read (${err.message}).`);
        if (failed && key) failed.push(key);
        return found;
      }
      for (const entry of bundle.entry || []) if (entry.resource) found.push(entry.resource);
      const next = (bundle.link || []).find((l) => l.relation === "next");
      url = next ? next.url : null;
      if (url && page + 1 === MAX_PAGES) notes.push(`${relative.split("?")[0]}: only the first ${MAX_PAGES} pages were read.`);
    }
    return found;
  }

  async function gather(ctx, notes) {
    const id = encodeURIComponent(ctx.patient);
    const failed = []; // searches that could not be read: the schedule says "not checked" for what they hold
    const [patient, ...lists] = await Promise.all([
      fhirGet(ctx, `${ctx.fhirBase.replace(/\/+$/, "")}/Patient/${id}`).catch(() => null),
      search(ctx, `Observation?patient=${id}&_count=200`, notes, failed, "assessments"),
      // Exams done (eye exams, skin exams) for the monitoring schedule.
      search(ctx, `Procedure?patient=${id}&_count=200`, notes, failed, "procedures"),
      search(ctx, `DiagnosticReport?patient=${id}&_count=200`, notes, failed, "diagnosticReports"),
      search(ctx, `MedicationRequest?patient=${id}&_include=MedicationRequest:medication&_count=200`, notes),
      search(ctx, `AdverseEvent?subject=Patient/${id}&_count=200`, notes),
      search(ctx, `Condition?patient=${id}&_count=200`, notes),
    ]);
    const seen = new Set();
    const resources = [];
    for (const r of lists.flat()) {
      const key = `${r.resourceType}/${r.id}`;
      if (r.id && seen.has(key)) continue;
      seen.add(key);
      resources.push(r);
    }
    return { patient, resources, unavailable: failed };
  }

  function patientName(patient) {
    const name = patient && Array.isArray(patient.name) ? patient.name[0] : null;
    if (!name) return "";
    return name.text || [...(name.given || []), name.family || ""].join(" ").trim();
  }

  // --- charts ---------------------------------------------------------------------------------

  function timeRange(view) {
    const times = [];
    view.labs.forEach((s) => s.points.forEach((p) => times.push(toSeconds(p.time))));
    view.events.forEach((e) => times.push(toSeconds(e.time)));
    view.therapy.forEach((t) => { if (t.start) times.push(toSeconds(t.start)); if (t.end) times.push(toSeconds(t.end)); });
    if (!times.length) return null;
    const lo = Math.min(...times), hi = Math.max(...times);
    return [lo - DAY, hi + DAY];
  }

  function chartBox(label) {
    const box = el("div", { className: "chart", role: "img", "aria-label": label, tabindex: "0" });
    return box;
  }

  function width(node) {
    return Math.max(320, (node.clientWidth || 800) - 8);
  }

  function tableOf(caption, headers, rows, open = false) {
    return el("details", { open }, [
      el("summary", { text: `Data table: ${caption}` }),
      el("table", { className: "data" }, [
        el("caption", { text: caption }),
        el("thead", {}, [el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))]),
        el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", { text: c === null || c === undefined ? "—" : String(c) }))))),
      ]),
    ]);
  }

  function bandPlugin(bands, box) {
    return {
      hooks: {
        drawClear: [(u) => {
          const { ctx, bbox } = u;
          const [, yMax] = [u.scales.y.min, u.scales.y.max];
          let drawn = 0;
          ctx.save();
          ctx.beginPath();
          ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
          ctx.clip();
          bands.forEach((band) => {
            const top = band.upper === null ? yMax : Math.min(band.upper, yMax);
            if (band.lower >= yMax) return;
            const y0 = u.valToPos(band.lower, "y", true);
            const y1 = u.valToPos(top, "y", true);
            ctx.fillStyle = GRADE_COLOURS[band.grade] + "55";
            ctx.fillRect(bbox.left, y1, bbox.width, y0 - y1);
            ctx.fillStyle = "#222";
            ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
            ctx.textAlign = "right";
            ctx.fillText(`Grade ${band.grade}`, bbox.left + bbox.width - 6, y1 + (y0 - y1) / 2 + 4);
            drawn += 1;
          });
          ctx.restore();
          box.setAttribute("data-bands-drawn", String(drawn));
        }],
      },
    };
  }

  function drawLab(series, range, host, ctcaeVersion) {
    // ULN multiples only where the term is graded by them (bands); otherwise the measured values.
    const byUln = series.bands.length > 0 && series.points.length > 0 && series.points.every((p) => p.x_uln !== null);
    const xs = series.points.map((p) => toSeconds(p.time));
    const ys = series.points.map((p) => (byUln ? p.x_uln : p.value));
    const yUnit = byUln ? "× ULN" : series.unit;
    // A multiple as the server writes it (never rounded across a threshold), else the number.
    const shown = (i) => (byUln && series.points[i].x_uln_shown ? series.points[i].x_uln_shown : fmtNum(ys[i]));
    const peak = series.points.reduce((best, p, i) => (best === null || ys[i] > ys[best] ? i : best), null);
    const latest = series.points.length - 1;
    const summary = series.points.length
      ? `${series.label}: ${series.points.length} values from ${fmtDate(series.points[0].time)} to ${fmtDate(series.points[latest].time)}; ` +
        `peak ${shown(peak)} ${yUnit} on ${fmtDate(series.points[peak].time)}` +
        (series.points[peak].grade !== null ? ` (grade ${series.points[peak].grade})` : "") +
        `; latest ${shown(latest)} ${yUnit}.`
      : `${series.label}: no dated values.`;
    const panel = el("div", { className: "lab", "data-analyte": series.analyte });
    panel.appendChild(el("h3", { text: `${series.label}${series.term ? " — CTCAE: " + series.term : ""}` }));
    const box = chartBox(summary);
    box.setAttribute("data-points", String(xs.length));
    box.setAttribute("data-bands", String(byUln ? series.bands.length : 0));
    panel.appendChild(box);
    host.appendChild(panel);
    const bands = byUln ? series.bands : [];
    const maxY = Math.max(...ys, byUln ? 1.5 : 0);
    // Show the band the peak sits in and a bit of the next one, never all of an open-ended band.
    const yTop = maxY * 1.2;
    new uPlot({
      width: width(host), height: 220,
      cursor: { sync: { key: SYNC } },
      scales: { x: { time: true, range: range }, y: { range: [0, yTop] } },
      axes: [{}, { label: yUnit, size: 60 }],
      series: [
        {},
        { label: `${series.label} (${yUnit})`, stroke: "#0072B2", width: 2, points: { size: 7, fill: "#0072B2" },
          value: (u, v) => (v === null ? "—" : `${fmtNum(v)} ${yUnit}`) },
      ],
      plugins: [bandPlugin(bands, box)],
    }, [xs, ys], box);
    if (series.undated) panel.appendChild(el("p", { className: "muted", text: `${series.undated} value(s) without a date are not drawn.` }));
    if (!series.bands.length) {
      panel.appendChild(el("p", { className: "muted", text: `CTCAE ${ctcaeVersion} has no grades in multiples of ULN for ${series.term || "this analyte"}: measured values are drawn, without grade bands.` }));
    } else if (!byUln && series.points.length) {
      panel.appendChild(el("p", { className: "muted", text: "Some values have no upper limit of normal: measured values are drawn and the grade bands are left out." }));
    }
    panel.appendChild(tableOf(`${series.label} values`, ["Date", "Value as received", `Value (${series.unit})`, "× ULN", "ULN", "Grade", "Resource"],
      series.points.map((p) => [p.time, p.received, fmtNum(p.value), p.x_uln_shown ?? fmtNum(p.x_uln), p.uln === null ? null : `${fmtNum(p.uln)}${p.range_is_default ? " (default range)" : ""}`,
        p.grade, p.resource])));
    if (series.bands.length) {
      panel.appendChild(tableOf(`${series.label} grade bands (CTCAE ${series.term})`, ["Grade", "From (× ULN)", "To (× ULN)", "CTCAE text"],
        series.bands.map((b) => [b.grade, `> ${fmtNum(b.lower)}`, b.upper === null ? "and above" : fmtNum(b.upper), b.text])));
    }
  }

  function drawEvents(events, range, host) {
    if (!events.length) { host.appendChild(el("p", { className: "muted", text: "No recorded adverse events." })); return; }
    const terms = [...new Set(events.map((e) => e.term))];
    const xs = [...new Set(events.map((e) => toSeconds(e.time)))].sort((a, b) => a - b);
    const data = [xs, ...terms.map((term) => xs.map((x) => {
      const hit = events.find((e) => e.term === term && toSeconds(e.time) === x);
      return hit ? hit.grade : null;
    }))];
    const box = chartBox(`Recorded adverse events: ${events.map((e) => `${e.term} grade ${e.grade} on ${fmtDate(e.time)}`).join("; ")}.`);
    box.setAttribute("data-markers", String(events.length));
    host.appendChild(box);
    new uPlot({
      width: width(host), height: 180,
      cursor: { sync: { key: SYNC } },
      scales: { x: { time: true, range: range }, y: { range: [0, 5.5] } },
      axes: [{}, { label: "CTCAE grade", size: 60, splits: () => [0, 1, 2, 3, 4, 5] }],
      series: [{}, ...terms.map((term, i) => ({
        label: term, stroke: SERIES_COLOURS[i % SERIES_COLOURS.length], paths: () => null,
        points: { show: true, size: 12, width: 2, fill: "#fff", stroke: SERIES_COLOURS[i % SERIES_COLOURS.length] },
        value: (u, v) => (v === null ? "—" : `grade ${v}`),
      }))],
    }, data, box);
    host.appendChild(tableOf("Recorded adverse events", ["Date", "Term", "Grade", "Recorded as", "Suspect drugs", "Resource"],
      events.map((e) => [e.time, e.term, e.grade, e.source, e.suspect_drugs.join(", "), e.resource])));
  }

  function drawTherapy(segments, range, host, now) {
    if (!segments.length) { host.appendChild(el("p", { className: "muted", text: "No medication orders on record." })); return; }
    const lanes = [...new Set(segments.map((s) => s.drug || s.label))];
    const edge = (s) => [s.start ? toSeconds(s.start) : range[0], s.end ? toSeconds(s.end) : Math.min(now, range[1])];
    const xs = [...new Set(segments.flatMap(edge))].sort((a, b) => a - b);
    const doseAt = (lane, x) => {
      const own = segments.filter((s) => (s.drug || s.label) === lane);
      // The segment running at x, else the one ending at x (so the last step is drawn to its end).
      const hit = own.find((s) => { const [a, b] = edge(s); return a <= x && x < b; }) ||
        own.find((s) => edge(s)[1] === x);
      if (!hit) return null;
      return hit.state === "hold" ? 0 : hit.daily_dose; // a stopped order was given until its end
    };
    const data = [xs, ...lanes.map((lane) => xs.map((x) => doseAt(lane, x)))];
    const holds = segments.filter((s) => s.state === "hold");
    const box = chartBox(`Therapy: ${segments.map((s) => `${s.label} ${s.daily_dose === null ? "dose not understood" : s.daily_dose + " " + (s.unit || "") + "/day"} from ${fmtDate(s.start)}${s.end ? " to " + fmtDate(s.end) : ""} (${s.state}${s.change !== "start" ? ", " + s.change : ""})`).join("; ")}.`);
    box.setAttribute("data-segments", String(segments.length));
    host.appendChild(box);
    new uPlot({
      width: width(host), height: 180,
      cursor: { sync: { key: SYNC } },
      scales: { x: { time: true, range: range } },
      axes: [{}, { label: "Daily dose (mg)", size: 60 }],
      series: [{}, ...lanes.map((lane, i) => ({
        label: lane, stroke: SERIES_COLOURS[i % SERIES_COLOURS.length], width: 3,
        paths: uPlot.paths.stepped({ align: 1 }), points: { show: true, size: 6 },
        value: (u, v) => (v === null ? "—" : `${v} mg/day`),
      }))],
      hooks: {
        drawClear: [(u) => {
          const { ctx, bbox } = u;
          ctx.save();
          holds.forEach((s) => {
            const [a, b] = edge(s);
            const x0 = u.valToPos(a, "x", true), x1 = u.valToPos(b, "x", true);
            ctx.fillStyle = "#99999955";
            ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
            ctx.fillStyle = "#222";
            ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
            ctx.fillText("hold", x0 + 4, bbox.top + 14);
          });
          // Dose changes are written out, not only seen as a step in the line.
          ctx.fillStyle = "#222";
          ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
          segments.filter((s) => ["reduction", "increase", "restart"].includes(s.change)).forEach((s) => {
            ctx.fillText(s.change, u.valToPos(edge(s)[0], "x", true) + 4, bbox.top + bbox.height - 6);
          });
          ctx.restore();
        }],
      },
    }, data, box);
    host.appendChild(tableOf("Therapy orders", ["Start", "End", "Medication", "Status", "Daily dose", "Dose as written", "Change", "Steps"],
      segments.map((s) => [s.start, s.end, s.label, s.status, s.daily_dose === null ? null : `${s.daily_dose} ${s.unit || ""}`, s.dose_text, s.change,
        s.steps.map((st) => `${st.sequence ?? ""} ${st.text || ""} ${st.start ? fmtDate(st.start) : ""}–${st.end ? fmtDate(st.end) : ""}`.trim()).join("; ")])));
  }

  function drawCalendars(calendars, host) {
    calendars.forEach((cal, i) => {
      const p = cal.protocol;
      const panel = el("div", { className: "calendar", "data-protocol": p.id });
      panel.appendChild(el("h3", { text: `${p.label}${p.verified ? "" : " (not verified)"}` }));
      if (p.source) {
        const src = el("p", { className: "muted" }, [document.createTextNode("Source: ")]);
        src.appendChild(p.source_url ? el("a", { href: p.source_url, target: "_blank", rel: "noopener", text: p.source }) : document.createTextNode(p.source));
        panel.appendChild(src);
      }
      p.notes.forEach((n) => panel.appendChild(el("p", { text: n })));
      host.appendChild(panel);
      if (!cal.days.length) { panel.appendChild(el("p", { className: "muted", text: "The steps of this protocol are not in the knowledge." })); return; }
      const box = chartBox(`${p.label}: ${cal.days.length} days, from ${cal.days[0].total_mg} mg/day to ${cal.days[cal.days.length - 1].total_mg} mg/day` +
        (p.maintenance_mg ? `, then ${p.maintenance_mg.join(" + ")} mg daily.` : "."));
      box.setAttribute("data-days", String(cal.days.length));
      panel.appendChild(box);
      new uPlot({
        width: width(host), height: 180,
        scales: { x: { time: false, range: [0, cal.days.length + 1] }, y: { range: [0, Math.max(...cal.days.map((d) => d.total_mg)) * 1.15] } },
        axes: [{ label: "Day" }, { label: "mg per day", size: 60 }],
        series: [{ label: "Day" }, { label: "Dose per day (mg)", fill: SERIES_COLOURS[i % SERIES_COLOURS.length] + "aa",
          stroke: SERIES_COLOURS[i % SERIES_COLOURS.length], paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } }],
      }, [cal.days.map((d) => d.day), cal.days.map((d) => d.total_mg)], box);
      panel.appendChild(tableOf(`${p.label}: dose per day`, ["Day", "Step", "Doses (mg)", "Total (mg/day)"],
        cal.days.map((d) => [d.day, d.step, d.doses_mg.join(" + "), d.total_mg])
          .concat(p.maintenance_mg ? [["then", "continuing", p.maintenance_mg.join(" + "), p.maintenance_mg.reduce((a, b) => a + b, 0)]] : [])));
    });
  }

  // Monitoring schedule: one row per scheduled test with a mark in words and a symbol (never colour
  // alone), and a strip of the same marks on a time axis.
  const MARK_SYMBOLS = { done: "✓", late: "✓", missed: "✗", overdue: "✗", due: "●", soon: "○", planned: "·", unknown: "?" };
  const MARK_COLOURS = { done: "#009E73", late: "#56B4E9", missed: "#D55E00", overdue: "#D55E00", due: "#E69F00", soon: "#E69F00", planned: "#999999", unknown: "#000000" };

  function drawMonitoring(schedules, host, now) {
    schedules.forEach((schedule) => {
      const panel = el("div", { className: "monitoring", "data-drug": schedule.drug });
      panel.appendChild(el("h3", { text: `${schedule.title}: from ${fmtDate(schedule.start)}` }));
      const paused = schedule.paused.map(([a, b]) => `${a} to ${b}`).join(", ");
      panel.appendChild(el("p", { className: "muted", text: `A result counts from ${schedule.window} a scheduled day.` +
        (paused ? ` Interrupted ${paused}: later dates moved.` : "") }));
      const counts = {};
      schedule.rows.forEach((r) => { counts[r.status] = (counts[r.status] || 0) + 1; });
      panel.setAttribute("data-overdue", String((counts.overdue || 0)));
      panel.setAttribute("data-done", String((counts.done || 0) + (counts.late || 0)));
      const items = [...new Set(schedule.rows.map((r) => r.display))];
      const strip = el("div", { className: "strip", role: "img",
        "aria-label": `${schedule.title} monitoring: ` + Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ") });
      const rows = schedule.rows;
      if (rows.length) {
        const lo = toSeconds(rows[0].due), hi = Math.max(toSeconds(rows[rows.length - 1].due), now);
        const span = Math.max(hi - lo, DAY);
        items.forEach((name) => {
          const lane = el("div", { className: "lane" }, [el("span", { className: "lane-name", text: name })]);
          const track = el("span", { className: "track" });
          rows.filter((r) => r.display === name).forEach((r) => {
            const mark = el("span", { className: `mark mark-${r.status}`, title: `${r.label}, due ${r.due}: ${r.mark}`,
              text: MARK_SYMBOLS[r.status] || "?" });
            mark.style.left = `${((toSeconds(r.due) - lo) / span) * 100}%`;
            mark.style.color = MARK_COLOURS[r.status] || "#000";
            track.appendChild(mark);
          });
          const today = el("span", { className: "today", title: "today" });
          today.style.left = `${((now - lo) / span) * 100}%`;
          track.appendChild(today);
          lane.appendChild(track);
          strip.appendChild(lane);
        });
      }
      panel.appendChild(strip);
      panel.appendChild(tableOf(`${schedule.title}: monitoring schedule`, ["Test", "Scheduled", "Due", "Counts from", "Counts to", "Status", "Result"],
        rows.map((r) => [r.display, r.label, r.due, r.opens, r.closes, `${MARK_SYMBOLS[r.status] || ""} ${r.mark}`,
          r.result ? `${r.result} (${r.result_date})` : null]), true));
      host.appendChild(panel);
    });
  }

  function drawLegend() {
    $("grade-legend").replaceChildren(...[1, 2, 3, 4].map((g) => el("span", {}, [
      el("span", { className: "swatch", style: `background:${GRADE_COLOURS[g]}` }), document.createTextNode(`Grade ${g}`)])));
  }

  function render(view, ctx, notes) {
    const rec = $("recommendation");
    if (view.recommendation.length) view.recommendation.forEach((card, i) => rec.appendChild(drawCard(card, i)));
    else rec.appendChild(el("p", { className: "muted", text: "No recommendation for this patient and drug from the current data." }));
    if (ctx.rule && !view.recommendation.some((c) => c.fromLink)) {
      rec.appendChild(el("p", { className: "muted", text: `The card that opened this timeline came from rule ${ctx.rule}; ` +
        "a patient-view evaluation of the current data does not repeat it (the rule may apply only when an order is placed)." }));
    }
    drawLegend();
    const range = timeRange(view) || [Date.now() / 1000 - 30 * DAY, Date.now() / 1000];
    const now = toSeconds(view.generatedAt);
    if (view.labs.length) view.labs.forEach((s) => drawLab(s, range, $("labs"), view.ctcaeVersion));
    else $("labs").appendChild(el("p", { className: "muted", text: "No lab values that toxhooks reads." }));
    drawEvents(view.events, range, $("events"));
    drawTherapy(view.therapy, range, $("therapy"), now);
    if (view.calendars.length) { $("calendar-section").hidden = false; drawCalendars(view.calendars, $("calendars")); }
    if ((view.monitoring || []).length) { $("monitoring-section").hidden = false; drawMonitoring(view.monitoring, $("monitoring"), now); }
    const allNotes = notes.concat(view.exclusions.map((x) => `${x.resource}: ${x.reason}`));
    if (allNotes.length) { $("notes-section").hidden = false; allNotes.forEach((n) => $("notes").appendChild(el("li", { text: n }))); }
  }

  async function start() {
    const config = await (await fetch("/smart/config")).json();
    const ctx = await launchContext(config);
    if (!ctx.patient) throw new Error("The launch did not name a patient.");
    const notes = [];
    if (ctx.contextPatient && ctx.contextPatient !== ctx.patient) {
      notes.push("The card named another patient than the EHR's launch context: the EHR's patient is shown.");
    }
    $("status").textContent = "Reading the patient's record…";
    const { patient, resources, unavailable } = await gather(ctx, notes);
    $("patient-name").textContent = patientName(patient) ? `— ${patientName(patient)}` : "";
    $("context").textContent = `Patient ${ctx.patient}${ctx.drug ? " · drug " + ctx.drug : ""}${ctx.rule ? " · rule " + ctx.rule : ""} · ${ctx.mode}`;
    $("status").textContent = "Grading…";
    const response = await fetch("/smart/api/timeline", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ patient: ctx.patient, drug: ctx.drug, rule: ctx.rule, resources, unavailable }),
    });
    const view = await response.json();
    if (!response.ok) throw new Error(`toxhooks could not shape the data: ${view.error || response.status}`);
    $("content").hidden = false;
    render(view, ctx, notes);
    $("status").textContent = `${resources.length} resources read; ${view.labs.length} lab series, ${view.events.length} recorded events, ${view.therapy.length} order(s).`;
    document.body.setAttribute("data-ready", "true");
  }

  start().catch((err) => { showError(String(err.message || err)); document.body.setAttribute("data-ready", "error"); });
})();
