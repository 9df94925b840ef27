// htm bound to Preact's h: JSX-like templates without a build step. Values
// interpolated into a template are rendered as text, never parsed as HTML.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
