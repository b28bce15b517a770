"""What every view shares: the job runner, the Qt document, the session context, dialogs and style."""
