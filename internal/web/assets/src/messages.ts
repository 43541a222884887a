// The list page's two live regions: #notice (role=status) for news that
// can wait, #alert (role=alert) for failures that need attention now.

function region(id: string): HTMLElement | null {
  return document.getElementById(id);
}

export function announce(text: string): void {
  const el = region("notice");
  if (!el) return;
  // Replacing the text node makes screen readers read it again even when
  // the same message repeats.
  el.textContent = "";
  el.append(document.createTextNode(text));
}

export function alertError(text: string): void {
  const el = region("alert");
  if (!el) return;
  el.textContent = "";
  el.append(document.createTextNode(text));
}

export function clearAlert(): void {
  const el = region("alert");
  if (el) el.textContent = "";
}
