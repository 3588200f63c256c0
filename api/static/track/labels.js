// The status page's labels in the reader's language (from /v1/i18n/{lang}, api/page_texts.py):
// t(key, english) gives the label, the English only while (or if) the catalog is not there.
export const i18n = { lang: null, labels: {}, brand: null, brandBlock: null };

export function t(key, fallback, values = {}) {
  const text = i18n.labels[key] || fallback;
  return text.replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}
