// A classic script (it runs even when the page's modules fail to load): a file of a tfport bundle
// page that cannot be loaded, a module import included, is told to `tfport parity` at once.
addEventListener("error", (event) => {
  const driver = new URLSearchParams(location.search).get("driver");
  const what = event.message || `could not load ${event.target.src || event.target.href ||
    "the page's module or one of its imports (a bundle file missing?)"}`;
  if (driver) fetch(`${driver}/log`, { method: "POST", body: String(what) });
}, true);
