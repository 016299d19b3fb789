"""Dialogs of their own: Export Clip and Verify Clip, with the export's worker job."""
