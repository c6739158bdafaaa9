# Build TokenClub for Windows: dist\tokenclub (PyInstaller, from packaging\tokenclub.spec) and
# dist\tokenclub-<version>-windows-x64-setup.exe (Inno Setup 6, packaging\windows\tokenclub.iss).
# Run by .github/workflows/installers.yml on a Windows runner; it cannot be built on Linux.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
$version = (Select-String -Path app\__init__.py -Pattern '^__version__ = "(.*)"$').Matches[0].Groups[1].Value
if (-not (Test-Path .venv-build\Scripts\python.exe)) { python -m venv .venv-build }
# the app's lock, the Windows-only extras it leaves out (keyring's backend), and PyInstaller: all hash-checked
.venv-build\Scripts\python -m pip install -q --require-hashes --no-deps -r requirements\lock.txt `
    -r packaging\windows\extra-lock.txt -r packaging\build-lock.txt
if ($LASTEXITCODE) { exit $LASTEXITCODE }
.venv-build\Scripts\python icons\render.py build\packaging\icons
Copy-Item icons\tokenclub.svg build\packaging\icons\
$env:TOKENCLUB_ICONS = "build\packaging\icons"
.venv-build\Scripts\pyinstaller --noconfirm --clean --log-level WARN --distpath dist `
    --workpath build\packaging\pyinstaller packaging\tokenclub.spec
if ($LASTEXITCODE) { exit $LASTEXITCODE }
dist\tokenclub\tokenclub-cli.exe --version
if ($LASTEXITCODE) { exit $LASTEXITCODE }
$iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe"
if (-not (Test-Path $iscc)) { choco install innosetup --no-progress -y; if ($LASTEXITCODE) { exit $LASTEXITCODE } }
& $iscc /Q "/DAppVersion=$version" packaging\windows\tokenclub.iss
if ($LASTEXITCODE) { exit $LASTEXITCODE }
Get-ChildItem dist\*.exe | Format-Table Name, Length
