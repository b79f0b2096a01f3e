// Launch page: starts the SMART authorization (EHR or standalone) or offers development mode.
"use strict";

(async function () {
  const status = document.getElementById("status");
  const query = new URLSearchParams(location.search);
  const config = await (await fetch("/smart/config")).json();
  const iss = query.get("iss");
  try {
    if (iss) {
      status.textContent = "Connecting to the EHR's authorization server…";
      await ToxSmart.authorize({ iss, launch: query.get("launch"), clientId: config.clientId,
        scope: config.scope, redirectUri: new URL("/smart/app", location.href).toString() });
      return;
    }
    status.textContent = "No EHR launch parameters.";
    document.getElementById("help").hidden = false;
    if (config.devEnabled) {
      const form = document.getElementById("dev");
      form.hidden = false;
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const params = new URLSearchParams({ fhir: form.fhir.value, patient: form.patient.value });
        if (form.drug.value) params.set("drug", form.drug.value);
        location.assign(`/smart/app#${params}`); // fragment: the patient id is not sent to the server
      });
    }
  } catch (err) {
    status.replaceChildren();
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = String(err.message || err);
    status.appendChild(p);
  }
})();
