const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const currency = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  maximumFractionDigits: 0,
});
const percent = new Intl.NumberFormat('en-US', {
  style: 'percent',
  maximumFractionDigits: 1,
  signDisplay: 'exceptZero',
});

export const formatInteger = (value: number): string => integer.format(value);
export const formatCurrency = (value: number): string => currency.format(value);
export const formatChange = (ratio: number): string => percent.format(ratio);
export const formatMs = (value: number): string => `${integer.format(value)} ms`;
