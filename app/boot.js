// Starts the SPA. A file (not an inline script) so the server's CSP can stay
// `script-src 'self' 'wasm-unsafe-eval'`. Trunk fills data-js / data-wasm (Trunk.toml
// pattern_script) with the hashed names.
const boot = document.getElementById("nhi-boot");
const app = await import(boot.dataset.js);
await app.default({ module_or_path: boot.dataset.wasm });
