"""The Data tab: folders, class counts, previews and augmentation."""
