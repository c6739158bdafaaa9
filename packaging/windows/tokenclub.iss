; Inno Setup script: the PyInstaller bundle (dist\tokenclub) as dist\tokenclub-<version>-windows-x64-setup.exe
;   iscc /DAppVersion=0.1.0 /DBundle=..\..\dist\tokenclub packaging\windows\tokenclub.iss
; Run by .github/workflows/installers.yml on a Windows runner; it cannot be built on Linux.
; Per-user install (no administrator rights): %LOCALAPPDATA%\Programs\TokenClub. The fixed AppId makes a
; newer installer upgrade in place. User data (%LOCALAPPDATA%\tokenclub: index, settings, cache) is never
; touched by install, upgrade or uninstall; the README says how to delete it.

#ifndef AppVersion
  #error Pass /DAppVersion=<version> (app/__init__.py __version__)
#endif
#ifndef Bundle
  #define Bundle "..\..\dist\tokenclub"
#endif

[Setup]
AppId={{6F0B7E52-4C1D-4E8A-9B57-2D7C1A3E9F10}
AppName=TokenClub
AppVersion={#AppVersion}
AppPublisher=TokenClub developers
DefaultDirName={autopf}\TokenClub
DefaultGroupName=TokenClub
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=tokenclub-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\icons\tokenclub.ico
UninstallDisplayIcon={app}\tokenclub.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; an upgrade replaces the bundle whole: no stale library of the old version stays beside the new
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\TokenClub"; Filename: "{app}\tokenclub.exe"
Name: "{autodesktop}\TokenClub"; Filename: "{app}\tokenclub.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; Flags: unchecked
Name: "autostart"; Description: "Start TokenClub when I log in"

[Registry]
; the same Run value the app's own "Start at login" setting writes (app/core/autostart.py)
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "TokenClub"; \
    ValueData: """{app}\tokenclub.exe"" gui"; Tasks: autostart; Flags: uninsdeletevalue

[Run]
Filename: "{app}\tokenclub.exe"; Description: "Start TokenClub"; Flags: nowait postinstall skipifsilent
