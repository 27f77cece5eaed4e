// PII scrubbing as Dapr's conversation API does it: each match is replaced by a tag naming its
// kind (<EMAIL_ADDRESS>, <PHONE_NUMBER>, <CREDIT_CARD>, <IP>, <SSN>, <IBAN_CODE>, <URL>).
// Order matters: longer, more specific shapes first, so a card number is not read as a phone.
const RULES: ReadonlyArray<[RegExp, string, ((m: string) => boolean)?]> = [
  [/\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g, '<EMAIL_ADDRESS>'],
  [/\bhttps?:\/\/[^\s<>"']+/g, '<URL>'],
  [/\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g, '<IBAN_CODE>'],
  [/\b(?:\d[ -]?){12,18}\d\b/g, '<CREDIT_CARD>', luhn],
  [/\b\d{3}-\d{2}-\d{4}\b/g, '<SSN>'],
  [/\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b/g, '<IP>'],
  [/(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?(?![\w:])/g, '<IP>'],
  [/(?<![\w+])\+?\(?\d{1,4}\)?[ .-]?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{2,4}\b/g, '<PHONE_NUMBER>', phone],
];

export function scrubPii(text: string): string {
  let out = text;
  for (const [re, tag, check] of RULES) out = out.replace(re, (m) => (!check || check(m) ? tag : m));
  return out;
}

/** 7 to 15 digits; a run without separators only up to 11 (longer ones are ids, not phones). */
function phone(m: string): boolean {
  const d = m.replace(/\D/g, '').length;
  return d >= 7 && d <= 15 && (/[\s().+-]/.test(m) || d <= 11);
}

/** Card numbers carry a Luhn check digit; other long digit runs are left alone. */
function luhn(m: string): boolean {
  const digits = m.replace(/\D/g, '');
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
