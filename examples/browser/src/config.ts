/** Where Hearth answers: VITE_HEARTH_URL at build time (.env holds the default, the environment wins). */
export const HEARTH_URL: string = (import.meta.env['VITE_HEARTH_URL'] || 'http://127.0.0.1:3000').replace(/\/+$/, '');
