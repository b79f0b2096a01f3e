// SMART App Launch helpers: discovery, PKCE (S256), authorization redirect and code exchange.
// Tokens stay in this browser tab (sessionStorage for the launch state, memory for the token).
"use strict";

const ToxSmart = (function () {
  const STATE_PREFIX = "toxhooks.smart.";

  function base64url(bytes) {
    let text = "";
    bytes.forEach((b) => { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomString(size) {
    const bytes = new Uint8Array(size);
    crypto.getRandomValues(bytes);
    return base64url(bytes);
  }

  async function challengeFor(verifier) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    return base64url(new Uint8Array(digest));
  }

  async function discover(iss) {
    const base = iss.replace(/\/+$/, "");
    const response = await fetch(`${base}/.well-known/smart-configuration`, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`SMART discovery failed at ${base} (HTTP ${response.status})`);
    const config = await response.json();
    if (!config.authorization_endpoint || !config.token_endpoint) {
      throw new Error("The EHR's SMART configuration has no authorization or token endpoint");
    }
    const methods = config.code_challenge_methods_supported;
    if (Array.isArray(methods) && !methods.includes("S256")) {
      throw new Error("The EHR's authorization server does not support PKCE S256");
    }
    return config;
  }

  // Start an EHR launch (launch given) or a standalone launch (no launch parameter).
  async function authorize({ iss, launch, clientId, scope, redirectUri }) {
    const config = await discover(iss);
    const verifier = randomString(32);
    const state = randomString(16);
    sessionStorage.setItem(STATE_PREFIX + state, JSON.stringify({
      iss, verifier, redirectUri, clientId, tokenEndpoint: config.token_endpoint,
    }));
    const params = new URLSearchParams({
      response_type: "code", client_id: clientId, redirect_uri: redirectUri,
      scope: launch ? scope : scope.replace(/^launch\b/, "launch/patient"),
      state, aud: iss, code_challenge: await challengeFor(verifier), code_challenge_method: "S256",
    });
    if (launch) params.set("launch", launch);
    const target = new URL(config.authorization_endpoint, iss);
    params.forEach((value, key) => target.searchParams.set(key, value));
    location.assign(target.toString());
  }

  // Exchange the authorization code; returns { fhirBase, token, patient, appContext }.
  async function exchange(code, state) {
    const key = STATE_PREFIX + state;
    const saved = sessionStorage.getItem(key);
    if (!saved) throw new Error("Unknown launch state: start the app again from the EHR");
    sessionStorage.removeItem(key); // a state is used once
    const launch = JSON.parse(saved);
    const response = await fetch(launch.tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "authorization_code", code, redirect_uri: launch.redirectUri,
        client_id: launch.clientId, code_verifier: launch.verifier,
      }),
    });
    if (!response.ok) throw new Error(`The token request failed (HTTP ${response.status})`);
    const token = await response.json();
    if (!token.access_token) throw new Error("The token response has no access token");
    return { fhirBase: launch.iss, token: token.access_token, patient: token.patient || null,
      appContext: token.appContext || null };
  }

  return { authorize, exchange, challengeFor, randomString };
})();
